//! Shared by the integration tests that compile the generated source on its
//! own.

/// What the generated source needs from sel4-sys, for compiling it alone:
/// the parts every shim has; each test adds its own `invocation` module.
pub const SHIM_COMMON: &str = r#"
pub type Word = u64;
pub type CPtr = u64;
pub trait CapType: Copy {
    const NAME: &'static str;
    const OBJECT_TYPE: core::option::Option<ObjectType>;
}
pub trait FixedSize: CapType {
    const TYPE: ObjectType;
    const SIZE_BITS: usize;
}
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cap<T: CapType> {
    cptr: CPtr,
    _t: core::marker::PhantomData<T>,
}
impl<T: CapType> Cap<T> {
    pub const fn from_cptr(cptr: CPtr) -> Self {
        Cap { cptr, _t: core::marker::PhantomData }
    }
    pub const fn cptr(self) -> CPtr {
        self.cptr
    }
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvocationError(pub Word);
"#;
